#include <unistd.h>
#include "CLineEdit.h"
int crashsh_le_isatty(int fd) { return isatty(fd); }
