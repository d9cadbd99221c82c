/*
 * ipc_kit.h - the whole IPC Kit C API in one include.
 *
 * Same file name and contents as the OpenHarmony SDK umbrella header
 * (IPCKit); code written for a device includes <IPCKit/ipc_kit.h>.
 */
#ifndef OHNCP_IPC_KIT_H
#define OHNCP_IPC_KIT_H

#include "ipc_error_code.h"
#include "ipc_cparcel.h"
#include "ipc_cremote_object.h"
#include "ipc_cskeleton.h"

#endif /* OHNCP_IPC_KIT_H */
