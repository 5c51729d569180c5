/* A 64 KiB flash image for QEMU's pflash on -machine pc: at reset it programs one byte of its own flash,
 * so QEMU switches the device to command mode (the ROM slot goes away) and back (the slot returns). */
        .code16
        .section .text, "ax"
start:
        cli
        movb    $0x40, %cs:0x8000       /* CFI: program byte command */
        movb    $0x55, %cs:0x8000       /* the byte */
        movb    %cs:0x8000, %al         /* read the status register (command mode) */
        movb    $0xff, %cs:0x8000       /* back to read-array mode */
        movb    %cs:0x8000, %al         /* read the programmed byte */
1:      hlt
        jmp     1b
        .section .reset, "ax"
        jmp     start
        .fill   13, 1, 0xf4     /* jmp rel16 is 3 bytes: 16 in all, ending at 4 GiB */
