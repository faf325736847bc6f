#!/bin/sh
# Regenerates the crash 8.0.6 references for DisTests: runs crash on dump.kdump with every
# command of commands.txt (functions across the kernel: scheduler, panic path, string and page
# helpers with alternatives, retpoline thunk, functions with static calls, module functions,
# and the COUNT, -r and -l forms) and stores one file per command in dump.kdump/.
#   usage: generate.sh   (from anywhere; needs ../shared/fixtures and install-crash-8.0.6.sh)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
"$here/../run-crash-session.sh" "$here/commands.txt" dump.kdump "$here/dump.kdump"
