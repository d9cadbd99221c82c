# OhncpRuntime.cmake - the host backend: build and install the ohncp runtime
# (included from the top CMakeLists.txt; paths are relative to the top).

# Everything the runtime and its helper produce lands in one directory, so
# libchild_process.so finds ohncp-spawner next to itself, as when installed.
set(OHNCP_OUT_DIR ${CMAKE_BINARY_DIR}/lib)

# Only OH_* symbols leave the shared libraries. Another map makes a runtime
# that looks like an older device's (scripts/test-targets.sh, API guards).
set(OHNCP_EXPORTS_MAP ${CMAKE_CURRENT_SOURCE_DIR}/src/exports.map CACHE FILEPATH
    "version script of libchild_process.so and libipc_capi.so")

function(ohncp_runtime_library name)
  add_library(${name} SHARED ${ARGN})
  target_include_directories(${name} PUBLIC ${OHNCP_INCLUDE_DIR} PRIVATE src)
  # The version script alone decides what is exported (OH_*); internal
  # helpers are also marked hidden in the source (OHNCP_HIDDEN).
  set_target_properties(${name} PROPERTIES
    LIBRARY_OUTPUT_DIRECTORY ${OHNCP_OUT_DIR}
    LINK_DEPENDS ${OHNCP_EXPORTS_MAP})
  target_link_options(${name} PRIVATE
    -Wl,--version-script=${OHNCP_EXPORTS_MAP} -Wl,-z,defs -Wl,-z,now)
endfunction()

ohncp_runtime_library(ipc_capi ${OHNCP_IPC_SOURCES} src/sys.c)
target_link_libraries(ipc_capi PRIVATE Threads::Threads)

ohncp_runtime_library(child_process
  src/native_child_process.c src/runtime.c src/sys.c)
target_link_libraries(child_process PRIVATE ipc_capi Threads::Threads ${CMAKE_DL_LIBS})

# HiLog for the host (include/hilog/log.h), under the device's file name
# libhilog_ndk.z.so: child libraries link it with -lhilog_ndk.z as there.
ohncp_runtime_library(hilog_ndk src/hilog.c)
target_link_libraries(hilog_ndk PRIVATE Threads::Threads)
set_target_properties(hilog_ndk PROPERTIES OUTPUT_NAME hilog_ndk.z)

# The accessors of OH_Ability_AcquireChildProcessInfos's result, in the
# library the SDK names for them; and the API 17 priority calls, which ask
# libchild_process.so (found at run time) which pids are children.
ohncp_runtime_library(ability_runtime src/ability_runtime.c)
ohncp_runtime_library(background_process_manager src/background_process_manager.c)
target_link_libraries(background_process_manager PRIVATE Threads::Threads ${CMAKE_DL_LIBS})
add_dependencies(background_process_manager child_process ability_runtime)
set_target_properties(background_process_manager PROPERTIES
  OUTPUT_NAME background_process_manager.z INSTALL_RPATH "\$ORIGIN"
  BUILD_WITH_INSTALL_RPATH ON) # as child_process below: no empty entry

# The spawner: started once per parent process, forks every child. It links
# both runtime libraries so a child's dlopen finds them already loaded, and
# exports one symbol through which libchild_process.so learns it is in a child.
add_executable(ohncp-spawner src/spawner.c src/child.c src/request.c src/sandbox.c src/sys.c)
target_include_directories(ohncp-spawner PRIVATE ${OHNCP_INCLUDE_DIR} src)
# --no-as-needed: the spawner calls nothing in them, but they must be
# loaded before a child dlopens a library that needs them.
target_link_libraries(ohncp-spawner PRIVATE
  -Wl,--no-as-needed child_process ipc_capi -Wl,--as-needed ${CMAKE_DL_LIBS})
target_link_options(ohncp-spawner PRIVATE
  -Wl,--export-dynamic-symbol=ohncp_spawner_state)
set_target_properties(ohncp-spawner PROPERTIES
  RUNTIME_OUTPUT_DIRECTORY ${OHNCP_OUT_DIR}
  # One RUNPATH for both trees (beside the libraries in the build tree, two
  # levels down from them installed): CMake's build RUNPATH would end in an
  # empty entry, the current directory (see child_process below).
  BUILD_WITH_INSTALL_RPATH ON
  INSTALL_RPATH "\$ORIGIN:\$ORIGIN/../../${CMAKE_INSTALL_LIBDIR}")

# Installed, libchild_process.so finds libipc_capi.so beside it even where
# that directory is not on the default search path (a staging prefix). The
# build tree uses the same RUNPATH: CMake's own build RUNPATH for it would end
# in an empty entry (".../lib:"), which the dynamic linker reads as the
# current directory, so bare library names would load from there.
set_target_properties(child_process PROPERTIES INSTALL_RPATH "\$ORIGIN"
  BUILD_WITH_INSTALL_RPATH ON)
install(TARGETS child_process ipc_capi hilog_ndk ability_runtime background_process_manager LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS ohncp-spawner RUNTIME DESTINATION ${CMAKE_INSTALL_LIBEXECDIR}/ohncp)
install(DIRECTORY include/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
