/* SDK spelling: #include <IPCKit/ipc_cparcel.h> */
#include "../ipc_cparcel.h"
