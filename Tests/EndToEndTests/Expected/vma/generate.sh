#!/bin/sh
# Regenerates the crash 8.0.6 references for VMATests: `vtop` of user addresses (the VMA block,
# "FILE:" for file pages not in memory, "(not accessible)" outside every VMA) and `vm`, in the
# context of PID 1 (`set 1`) and through `-c` for md5sum. The kdump crash (vmcore, dump.kdump:
# user pages excluded there, crash still prints the VMA block) uses kdump-commands.txt, the QEMU
# boot (qemu.elf, qemu.kdump: other PIDs and addresses) qemu-commands.txt. One file per command
# in <dump>/, named like refs/crash-8.0.6; what crash prints outside the redirections (its error
# lines) goes to <dump>/_session.txt.
#   usage: generate.sh   (from anywhere; needs ../shared/fixtures and install-crash-8.0.6.sh)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
for dump in vmcore dump.kdump qemu.elf qemu.kdump; do
    case $dump in qemu.*) list=$here/qemu-commands.txt ;; *) list=$here/kdump-commands.txt ;; esac
    rm -rf "$here/$dump"
    "$here/../run-crash-session.sh" "$list" "$dump" "$here/$dump" "$here/$dump/_session.txt"
done
