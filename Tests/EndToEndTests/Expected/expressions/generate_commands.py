#!/usr/bin/env python3
"""Writes commands.txt: the p commands ExpressionTests compares with crash 8.0.6.

The fixed cases first (issue 11's list), then generated ones from a fixed seed over literals,
casts, operators and a few symbols of the fixture kernel. Expressions are written so that
crash's own command line leaves them alone: one starting with '-' (crash would take it for an
option), holding '>', '|' or '!' (redirection, pipe, shell escape) or a lone '-' word (crash's
option parser drops it: "p 5 - 3" reaches gdb as "p 5 3") is parenthesized. CRASH_MISREADS
keeps a few that crash gets wrong that way, for the test to say so.
"""
import random

rng = random.Random(20261202)

FIXED = [
    "p (-1)/(unsigned int)2", "p (-1U)", "p 4294967295L*2", "p/d (unsigned int)0xAB6EFB58",
    "p schedule+4", "p init_task.comm + 1", "p init_task.tasks.next*2", "p jiffies-&init_mm",
    "p nr_cpu_ids--1", "p 'A'", "p/o 100", "p/t 100", "p/c 65", "p 7 % 3", "p \"1 > 2\"",
    "p (1 < 2)", "p 1 ? 2 : 3", "p 0 ? 2 : 3", "p (1 == 1)", "p (1 != 1)", "p \"(2 >= 3)\"",
    "p (1 <= 1)", "p \"(1 && 0)\"", "p \"(1 || 0)\"", "p \"(!0)\"", "p \"(!jiffies)\"", "p 6 & 3",
    "p \"6 | 3\"", "p 6 ^ 3", "p 1 << 4", "p \"256 >> 4\"", "p ~0", "p ~0U", "p '\\n'", "p '\\0'",
    "p '\\101'", "p 'A' + 1", "p/x 'A'", "p/c 300", "p/o -1", "p/t (-5)", "p/x -1", "p/d -1",
    "p 1/0", "p 5 % 0", "p 0x7fffffff + 1", "p 2147483648", "p 4294967296",
    "p 18446744073709551615", "p 010", "p 1UL", "p 1LL", "p 1ULL", "p 0x10u", "p (char)65",
    "p (unsigned char)200", "p (short)-1", "p (unsigned short)-1", "p sizeof(int)",
    "p sizeof(struct task_struct)", "p &init_task + 1", "p (char *)&init_task",
    "p init_task.comm[0]", "p *init_task.comm", "p init_task.comm + 4", "p &init_task.comm[2]",
    "p init_task.tasks.next - init_task.tasks.prev", "p &init_task.tasks - &init_task.tasks",
    "p (&init_task.tasks + 1) - &init_task.tasks", "p &init_task == &init_task",
    "p (&init_task < &init_mm)", "p init_task.tasks.next == 0", "p &init_task + jiffies * 0",
    "p schedule", "p &schedule", "p *schedule", "p schedule - 4", "p (long)schedule",
    "p (unsigned int)schedule", "p/x schedule + 16", "p jiffies * 2", "p jiffies + 1",
    "p nr_cpu_ids * 3", "p nr_cpu_ids - 3", "p nr_cpu_ids / 3", "p nr_cpu_ids % 3",
    "p -nr_cpu_ids", "p/x -nr_cpu_ids", "p ~nr_cpu_ids", "p (int)nr_cpu_ids - 3",
    "p init_task.pid - 1", "p init_task.prio * init_task.prio", "p init_task.prio / (-7)",
    "p init_task.prio % (-7)", "p init_task.comm[0] + init_task.comm[1]",
    "p init_task.comm[0] * 1000000", "p (long)init_task.comm[0] * 10000000000",
    "p 1 ? jiffies : 0", "p 0 ? jiffies : nr_cpu_ids", "p (0 ? *(int *)0 : 5)",
    "p \"(0 && *(int *)0)\"", "p \"(1 || *(int *)0)\"", "p (1, 2)", "p ((1 + 2) * 3)",
    "p 1 + 2 * 3 - 4 / 2", "p 1 - 2 - 3", "p 100 / 10 / 5", "p 2 + 3 << 1", "p 1 < 2 == 1",
    "p 1 & 3 ^ 2", "p sizeof(init_task)", "p sizeof init_task.comm", "p sizeof(init_task.comm)",
    "p (unsigned long)-1 / 2", "p (long)-1 / 2", "p (unsigned long)1 << 63",
    "p (unsigned long)1 << 63 >> 63", "p (long)1 << 63 >> 63", "p 0x8000000000000000",
    "p 0x80000000", "p 0xffffffff", "p 0x100000000", "p 9223372036854775807",
    "p 9223372036854775808", "p 037777777777", "p 040000000000", "p/x 1L << 40",
    "p 1 << 31", "p (1 << 31) >> 31", "p 1U << 31 >> 31", "p (short)32768", "p (char)128",
    "p (signed char)-1", "p (unsigned char)-1", "p (_Bool)5", "p (unsigned int)-1 + 1",
    "p (unsigned int)-1 + 1L", "p (unsigned int)-1 + 1UL", "p -1 < 1U", "p -1L < 1U",
    "p -1 < 1UL", "p (short)-1 < (unsigned short)1", "p (unsigned char)255 + 1",
    "p 'a' - 'A'", "p/c 'a' - 32", "p/x (char)-1", "p/o (unsigned char)8", "p/t 255",
    "p/t 0", "p/o 0", "p/c 0", "p/d 'A'", "p/x 0", "p/d (unsigned long)-1",
    "p/d (unsigned int)-1", "p/x (short)-1", "p/x (long)-1", "p/o (long)-1",
    "p/c 97", "p/c -1", "p/c 200", "p/d &init_task", "p/x &init_task", "p/o 8UL",
]

# gdb's print shape: the 256-element limit, strings, escapes, whatis of types and expressions.
SHAPE = [
    "p __per_cpu_offset", "p/x __per_cpu_offset", "p init_task.cpus_mask", "p (char *)schedule",
    "p (char *)schedule + 16", "p (unsigned char *)schedule", "p (const char *)schedule",
    "p (char *)linux_banner", "p linux_banner", "p saved_command_line", "p init_task.comm",
    "p/x init_task.comm", "p/d init_task.comm", "p &init_task.comm", "p *init_task.comm@3",
    "p init_task.comm[0]@20", "p jiffies@2", "p/x jiffies@2", "p init_uts_ns.name",
    "p init_uts_ns.name.sysname", "p init_task.sched_class", "p jiffies_64", "p *init_task.sched_class",
    "p init_task.tasks", "p &init_task.tasks", "p *&init_task.tasks", "p init_task.tasks.next",
    "p (long)init_task.tasks.next", "p/x (long)init_task.tasks.next", "p (char)init_task.comm[1]",
    "p (signed char)init_task.comm[1]", "p (unsigned char)init_task.comm[1]",
    "whatis enum pid_type", "whatis enum zone_type", "whatis atomic_t", "whatis spinlock_t",
    "whatis cpumask_t", "whatis pid_t", "whatis struct lock_class_key",
    "whatis struct mem_section_usage", "whatis jiffies", "whatis init_task.comm",
    "whatis &init_task.comm[1]", "whatis init_task.comm + 1", "whatis 1 == 1", "whatis 'A'",
    "whatis 1UL", "whatis 4294967295", "whatis 2147483648", "whatis 1LL", "whatis sizeof(int)",
    "whatis (char)1 + (char)1", "whatis nr_cpu_ids * 1", "whatis jiffies+1", "whatis 1 ? 'A' : 2",
    "whatis init_task.tasks.next + 1", "whatis -nr_cpu_ids", "whatis ~(short)1", "whatis !jiffies",
    "whatis init_task.pid << 2", "whatis (unsigned char)1 << 2", "whatis 1U + 1L",
    "whatis 1UL + 1LL", "whatis 1L + 1U",
    "p *linux_banner@300", "p linux_banner[1]@258", "p/x init_task.comm[0]@4",
    "p (char *)linux_banner + 100", "p init_task.thread", "p init_task.pid_links",
    "p &init_task.pid_links[1]", "p *init_task.pid_links", "p init_task.se", "p/x init_task.se.load",
    "p init_task.stack", "p (unsigned long)init_task.stack", "p/o init_task.flags",
    "p/t init_task.flags", "p/c init_task.comm", "p -x init_task.pid", "p -d init_task.tasks.next",
    "p $1", "p $", "p $$2", "p jiffies@0", "p 1@2", "p *init_task.sched_class->enqueue_task",
    "p init_task.sched_class->enqueue_task", "p *init_task.sched_class->enqueue_task@2",
    "p init_task.comm[16]", "p init_task.comm[-1]", "p &init_task.comm[16] - &init_task.comm[0]",
    "p sizeof(init_task.comm)/sizeof(init_task.comm[0])", "p (char)init_task.comm",
    "p (struct list_head)init_task", "p *(struct list_head *)&init_task.tasks",
    "p ((struct list_head *)&init_task.tasks)->next", "p &((struct task_struct *)0)->tasks",
    "p (unsigned long)&((struct task_struct *)0)->tasks", "p &*&init_task",
]

# Enumeration constants, named and anonymous enums (appended last, so the generated cases and
# their value-history numbers stay as they were).
ENUMS = ["p MM_FILEPAGES", "p PG_lru", "p/x PG_lru", "p/d PG_lru", "p PG_lru + 1",
         "p MM_FILEPAGES == 0", "p (int)PG_lru", "whatis PG_lru", "whatis MM_FILEPAGES",
         "p TASK_COMM_LEN", "p sizeof(PG_lru)", "p PG_lru * 2", "whatis PG_lru + 1",
         "p PIDTYPE_PID", "p (enum pid_type)1", "p/x (enum pageflags)4", "p init_task.comm[TASK_COMM_LEN - 1]",
         "p PG_lru << 2", "p/c 60 + PG_lru"]

# Commands crash 8.0.6 mangles before gdb sees them (ExpressionTests.knownDifferences).
CRASH_MISREADS = ["p 5 - 3", "p jiffies - 1", "p init_task.pid - 1", "p/x \"1 > 2\""]

SYMBOLS = ["jiffies", "nr_cpu_ids", "init_task.pid", "init_task.prio", "init_task.flags",
           "init_task.comm[0]", "init_task.comm[3]", "init_task.policy", "init_task.exit_code",
           "init_task.static_prio", "init_task.nr_cpus_allowed", "init_task.se.load.weight"]
LITERALS = ["0", "1", "2", "3", "7", "10", "100", "255", "256", "65535", "65536", "2147483647",
            "2147483648", "4294967295", "4294967296", "0x7fffffffffffffff", "0xffffffffffffffff",
            "1U", "1L", "1UL", "1LL", "1ULL", "010", "0x10u", "0x80000000", "12345678901",
            "'A'", "'z'", "'0'", "(-1)", "(-2)", "(-100)", "(-2147483648)"]
CASTS = ["char", "unsigned char", "signed char", "short", "unsigned short", "int", "unsigned int",
         "long", "unsigned long", "long long", "unsigned long long", "unsigned"]
ARITH = ["+", "-", "*", "/", "%", "&", "|", "^", "==", "!=", "<", "<=", ">", ">=", "&&", "||"]
SHIFTS = ["<<", ">>"]
FORMATS = ["p"] * 6 + ["p/x", "p/d", "p/o", "p/c"]


def operand():
    r = rng.random()
    if r < 0.40:
        return rng.choice(LITERALS)
    if r < 0.70:
        return rng.choice(SYMBOLS)
    inner = rng.choice(LITERALS + SYMBOLS)
    return "(%s)%s" % (rng.choice(CASTS), inner)


def expression():
    kind = rng.random()
    if kind < 0.55:
        op = rng.choice(ARITH)
        return "%s %s %s" % (operand(), op, operand())
    if kind < 0.65:
        return "%s %s %d" % (operand(), rng.choice(SHIFTS), rng.randrange(0, 32))
    if kind < 0.75:
        return "%s%s" % (rng.choice(["-", "~", "!"]), operand())
    if kind < 0.85:
        return "%s ? %s : %s" % (operand(), operand(), operand())
    if kind < 0.95:
        ops = [rng.choice(ARITH[:9]) for _ in range(2)]
        return "%s %s %s %s %s" % (operand(), ops[0], operand(), ops[1], operand())
    return "(%s)(%s %s %s)" % (rng.choice(CASTS), operand(), rng.choice(ARITH[:9]), operand())


def protected(expr):
    """expr as crash's command line passes it to gdb unchanged."""
    if any(c in expr.replace("->", "") for c in ">|!") or " - " in expr or expr.startswith("-"):
        return "(%s)" % expr
    return expr


def command(expr):
    return "%s %s" % (rng.choice(FORMATS), protected(expr))


def fixed(c):
    if c in CRASH_MISREADS or '"' in c:
        return c
    fmt, expr = c.split(" ", 1)
    return "%s %s" % (fmt, protected(expr))


def main():
    seen = set()
    out = []
    for c in [fixed(c) for c in FIXED + SHAPE] + CRASH_MISREADS:
        if c not in seen:
            seen.add(c)
            out.append(c)
    while len(out) < len(FIXED) + 400:
        c = command(expression())
        if c not in seen:
            seen.add(c)
            out.append(c)
    out += [fixed(c) for c in ENUMS if c not in seen]
    with open("commands.txt", "w") as f:
        f.write("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
