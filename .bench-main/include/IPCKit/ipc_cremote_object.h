/* SDK spelling: #include <IPCKit/ipc_cremote_object.h> */
#include "../ipc_cremote_object.h"
