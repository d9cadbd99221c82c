/* SDK spelling: #include <IPCKit/ipc_error_code.h> */
#include "../ipc_error_code.h"
