/* report.c - placeholder until the HTML report is written; replace whole. */
#include "cli.h"

calib_status cli_write_report(const char *path, const cli_report *report,
                              calib_error *err)
{
    (void)path;
    (void)report;
    (void)err;
    return CALIB_E_ARGUMENT;
}
