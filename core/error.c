/* core/error.c - names and messages of the VEX_E* codes (from the one table
 * in vexrt/error.h). Pure data, freestanding. */
#include "vx.h"

const char *vex_strerror(int err)
{
    switch (err) {
    case 0: return "success";
#define VEX__ERR_TEXT(name, value, text) case value: return text;
        VEX_ERRNO_MAP(VEX__ERR_TEXT)
#undef VEX__ERR_TEXT
    default: return "unknown error";
    }
}

const char *vex_errname(int err)
{
    switch (err) {
    case 0: return "VEX_OK";
#define VEX__ERR_NAME(name, value, text) case value: return "VEX_" #name;
        VEX_ERRNO_MAP(VEX__ERR_NAME)
#undef VEX__ERR_NAME
    default: return "VEX_E?";
    }
}
