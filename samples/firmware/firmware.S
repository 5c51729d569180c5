/* kvmtui's sample firmware: a reset vector in ROM, a banner, data and bss in RAM.
 * Real-mode code, just enough to be a believable first instruction stream. Build: ./build.sh */

        .code16

        .section .text, "ax"
        .globl  _start
_start:                                 /* jumped to from the reset vector */
        cli
        cld
        movw    $0x2000, %ax            /* %ds = 0x2000: real-mode base 0x20000, where .data lives */
        movw    %ax, %ds
        incl    %ds:0                   /* boot_counter++ (a write to RAM) */
        movb    $0x5a, %cs:_start       /* a write to ROM: KVM_EXIT_MMIO under a read-only slot */
halt:
        hlt
        jmp     halt

        .globl  checksum
        .type   checksum, @function
checksum:                               /* sum of the config table, in %al */
        xorb    %al, %al
        movw    $4, %cx
1:      addb    %ds:4(%bx), %al
        incw    %bx
        loop    1b
        ret
        .size   checksum, . - checksum

        .section .rodata, "a"
        .globl  banner
        .type   banner, @object
banner: .asciz  "kvmtui firmware 1.0"
        .size   banner, . - banner

        .section .reset, "ax"
        .globl  reset_vector
        .type   reset_vector, @function
reset_vector:                           /* the CPU starts here: 16 bytes below 4 GiB */
        jmp     _start
        .size   reset_vector, 16
        .fill   16 - (. - reset_vector), 1, 0xf4

        .section .data, "aw"
        .globl  boot_counter
        .type   boot_counter, @object
boot_counter:
        .long   0
        .size   boot_counter, 4
        .globl  config_table
        .type   config_table, @object
config_table:
        .byte   1, 2, 3, 4
        .size   config_table, 4

        .section .bss, "aw", @nobits
        .globl  stack
        .type   stack, @object
stack:  .space  8192
        .size   stack, 8192
