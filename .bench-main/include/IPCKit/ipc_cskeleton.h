/* SDK spelling: #include <IPCKit/ipc_cskeleton.h> */
#include "../ipc_cskeleton.h"
