#ifndef CRASHSH_CDISASSEMBLER_SHIM_H
#define CRASHSH_CDISASSEMBLER_SHIM_H
/* Zydis (Debian's libzydis-dev) decodes x86-64; this shim flattens one decoded instruction into
 * a plain struct Swift reads without touching Zydis' unions, and formats each operand with Zydis'
 * AT&T formatter. Swift puts the operands in AT&T order and spells mnemonics as gdb does. */
#include <Zydis/Zydis.h>
#include <string.h>

#define CRASHSH_MAX_OPERANDS 5

typedef struct {
    char text[96];              /* Zydis' AT&T text of the operand */
    int kind;                   /* 1 register, 2 memory, 3 pointer, 4 immediate */
    int size_bits;              /* the operand's width */
    int register_class_segment; /* the register is a segment register */
    int memory_zero_displacement; /* a displacement is encoded and is 0 (objdump prints 0x0) */
    int rip_relative;
    unsigned long long absolute_address; /* rip-relative or relative-branch target */
    int relative_immediate;     /* a branch displacement (call/jmp/jcc) */
} crashsh_operand;

typedef struct {
    int length;
    char mnemonic[32];          /* Zydis' base mnemonic: jz, movzx, nop... */
    char formatted[160];        /* Zydis' whole AT&T line, for the rare forms Swift leaves as they are */
    int operand_width;
    int is_branch;              /* call, jmp, jcc */
    int is_lock, is_rep, is_repe, is_repne;
    int operand_count;          /* visible operands, Intel order */
    crashsh_operand operands[CRASHSH_MAX_OPERANDS];
} crashsh_instruction;

/* Decodes one instruction at `address` from `bytes`; 0 on success, -1 when the bytes do not form one. */
static inline int crashsh_decode(const unsigned char *bytes, size_t length, unsigned long long address,
                                 crashsh_instruction *out) {
    ZydisDecoder decoder;
    if (!ZYAN_SUCCESS(ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64)))
        return -1;
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
    if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(&decoder, bytes, length, &insn, ops)))
        return -1;
    ZydisFormatter fmt;
    ZydisFormatterInit(&fmt, ZYDIS_FORMATTER_STYLE_ATT);
    ZydisFormatterSetProperty(&fmt, ZYDIS_FORMATTER_PROP_FORCE_RELATIVE_RIPREL, ZYAN_TRUE);
    ZydisFormatterSetProperty(&fmt, ZYDIS_FORMATTER_PROP_HEX_UPPERCASE, ZYAN_FALSE);
    ZydisFormatterSetProperty(&fmt, ZYDIS_FORMATTER_PROP_IMM_SIGNEDNESS, ZYDIS_SIGNEDNESS_UNSIGNED);
    ZydisFormatterSetProperty(&fmt, ZYDIS_FORMATTER_PROP_FORCE_SCALE_ONE, ZYAN_TRUE);
    ZydisFormatterSetProperty(&fmt, ZYDIS_FORMATTER_PROP_DISP_PADDING, ZYDIS_PADDING_DISABLED);
    ZydisFormatterSetProperty(&fmt, ZYDIS_FORMATTER_PROP_IMM_PADDING, ZYDIS_PADDING_DISABLED);
    ZydisFormatterSetProperty(&fmt, ZYDIS_FORMATTER_PROP_ADDR_PADDING_ABSOLUTE, ZYDIS_PADDING_DISABLED);
    ZydisFormatterSetProperty(&fmt, ZYDIS_FORMATTER_PROP_ADDR_PADDING_RELATIVE, ZYDIS_PADDING_DISABLED);

    memset(out, 0, sizeof *out);
    out->length = insn.length;
    const char *name = ZydisMnemonicGetString(insn.mnemonic);
    if (name) strncpy(out->mnemonic, name, sizeof out->mnemonic - 1);
    ZydisFormatterFormatInstruction(&fmt, &insn, ops, insn.operand_count_visible, out->formatted,
                                    sizeof out->formatted, address, ZYAN_NULL);
    out->operand_width = insn.operand_width;
    out->is_branch = insn.meta.category == ZYDIS_CATEGORY_CALL || insn.meta.category == ZYDIS_CATEGORY_COND_BR
        || insn.meta.category == ZYDIS_CATEGORY_UNCOND_BR;
    out->is_lock = (insn.attributes & ZYDIS_ATTRIB_HAS_LOCK) != 0;
    out->is_rep = (insn.attributes & ZYDIS_ATTRIB_HAS_REP) != 0;
    out->is_repe = (insn.attributes & ZYDIS_ATTRIB_HAS_REPE) != 0;
    out->is_repne = (insn.attributes & ZYDIS_ATTRIB_HAS_REPNE) != 0;
    int n = 0;
    for (int i = 0; i < insn.operand_count_visible && n < CRASHSH_MAX_OPERANDS; i++) {
        const ZydisDecodedOperand *op = &ops[i];
        if (op->visibility == ZYDIS_OPERAND_VISIBILITY_HIDDEN) continue;
        crashsh_operand *o = &out->operands[n++];
        ZydisFormatterFormatOperand(&fmt, &insn, op, o->text, sizeof o->text, address, ZYAN_NULL);
        o->size_bits = op->size;
        switch (op->type) {
        case ZYDIS_OPERAND_TYPE_REGISTER:
            o->kind = 1;
            o->register_class_segment = ZydisRegisterGetClass(op->reg.value) == ZYDIS_REGCLASS_SEGMENT;
            break;
        case ZYDIS_OPERAND_TYPE_MEMORY:
            o->kind = 2;
            o->memory_zero_displacement = op->mem.disp.has_displacement && op->mem.disp.value == 0
                && insn.raw.disp.size != 0;
            if (op->mem.base == ZYDIS_REGISTER_RIP) {
                ZyanU64 target = 0;
                if (ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, op, address, &target))) {
                    o->rip_relative = 1;
                    o->absolute_address = target;
                }
            }
            break;
        case ZYDIS_OPERAND_TYPE_POINTER:
            o->kind = 3;
            break;
        case ZYDIS_OPERAND_TYPE_IMMEDIATE:
            o->kind = 4;
            if (op->imm.is_relative) {
                ZyanU64 target = 0;
                if (ZYAN_SUCCESS(ZydisCalcAbsoluteAddress(&insn, op, address, &target))) {
                    o->relative_immediate = 1;
                    o->absolute_address = target;
                }
            }
            break;
        default:
            break;
        }
    }
    out->operand_count = n;
    return 0;
}
#endif
