#ifndef CRASHSH_CDWARF_SHIM_H
#define CRASHSH_CDWARF_SHIM_H
#include <elf.h>
#include <libelf.h>
#include <gelf.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#endif
