#!/bin/sh
# Rebuild firmware.elf from firmware.S with GNU binutils (Debian: binutils). The built ELF is committed,
# so users need no toolchain.
set -eu
cd "$(dirname "$0")"
as --32 -o firmware.o firmware.S
ld -m elf_i386 -T firmware.ld -o firmware.elf firmware.o
rm -f firmware.o
echo "built $(pwd)/firmware.elf"
