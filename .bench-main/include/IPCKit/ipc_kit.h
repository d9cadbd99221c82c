/* SDK spelling: #include <IPCKit/ipc_kit.h> */
#include "../ipc_kit.h"
