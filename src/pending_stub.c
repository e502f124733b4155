/* pending_stub.c - placeholder until write.c exists; delete then. */
#include "internal.h"
void calib_remove_pending_files(void) {}
