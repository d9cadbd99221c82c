/* SDK spelling: #include <AbilityKit/native_child_process.h> */
#include "../native_child_process.h"
