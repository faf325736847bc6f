#ifndef CRASHSH_CLINEEDIT_H
#define CRASHSH_CLINEEDIT_H
/* placeholder; the shell work fills this in */
int crashsh_le_isatty(int fd);
#endif
