# OhncpBackend.cmake - which libchild_process.so / libipc_capi.so to use.
#
#   OHNCP_BACKEND=host    build this project's runtime (the default on Linux)
#   OHNCP_BACKEND=system  build no runtime; link the target's own libraries
#                         (the default when building for OpenHarmony)
#
# OpenHarmony is recognised by what the NDK's ohos.toolchain.cmake sets:
# the variable OHOS, or CMAKE_SYSTEM_NAME "OHOS". With the system backend the
# libraries are looked up in OHNCP_SYSTEM_PREFIX (cache variable, or the
# environment variable of the same name) if given, else in the usual places
# below the sysroot (CMAKE_SYSROOT / CMAKE_FIND_ROOT_PATH), including the
# NDK's per-architecture directory (usr/lib/aarch64-linux-ohos, ...).
# Either way the targets `child_process` and `ipc_capi` exist afterwards, so
# examples and tests link them the same way.

if(OHOS OR CMAKE_SYSTEM_NAME STREQUAL "OHOS")
  set(OHNCP_TARGET_IS_OHOS TRUE)
  set(_ohncp_default_backend system)
else()
  set(OHNCP_TARGET_IS_OHOS FALSE)
  set(_ohncp_default_backend host)
endif()
set(OHNCP_BACKEND "${_ohncp_default_backend}" CACHE STRING
    "host: build the ohncp runtime; system: use the target's libchild_process.so")
set_property(CACHE OHNCP_BACKEND PROPERTY STRINGS host system)
if(NOT OHNCP_BACKEND MATCHES "^(host|system)$")
  message(FATAL_ERROR "OHNCP_BACKEND must be host or system, not '${OHNCP_BACKEND}'")
endif()

if(NOT DEFINED OHNCP_SYSTEM_PREFIX AND DEFINED ENV{OHNCP_SYSTEM_PREFIX})
  set(OHNCP_SYSTEM_PREFIX "$ENV{OHNCP_SYSTEM_PREFIX}")
endif()
set(OHNCP_SYSTEM_PREFIX "${OHNCP_SYSTEM_PREFIX}" CACHE PATH
    "system backend: prefix holding lib/libchild_process.so (empty: the sysroot)")

# OHOS_ARCH (NDK spelling) -> the NDK's library subdirectory.
function(_ohncp_ohos_triple out)
  set(triple "")
  if(OHOS_ARCH STREQUAL "arm64-v8a")
    set(triple aarch64-linux-ohos)
  elseif(OHOS_ARCH STREQUAL "armeabi-v7a")
    set(triple arm-linux-ohos)
  elseif(OHOS_ARCH STREQUAL "x86_64")
    set(triple x86_64-linux-ohos)
  endif()
  set(${out} ${triple} PARENT_SCOPE)
endfunction()

# Define the imported target `name` for lib<name>.so of the system (or for
# the file `file`, if given: libhilog_ndk.z.so); unless OPTIONAL, not
# finding it is an error.
function(_ohncp_import_system_library name)
  cmake_parse_arguments(arg "OPTIONAL" "FILE" "" ${ARGN})
  set(file_names ${name})
  if(arg_FILE)
    set(file_names ${arg_FILE})
  endif()
  _ohncp_ohos_triple(triple)
  set(suffixes lib lib64 usr/lib usr/lib64)
  if(triple)
    list(APPEND suffixes lib/${triple} usr/lib/${triple})
  endif()
  if(CMAKE_LIBRARY_ARCHITECTURE)
    list(APPEND suffixes lib/${CMAKE_LIBRARY_ARCHITECTURE} usr/lib/${CMAKE_LIBRARY_ARCHITECTURE})
  endif()
  if(OHNCP_SYSTEM_PREFIX)
    # An explicit prefix is the only place looked at (never the build host's
    # own /usr/lib); it is a host path, so outside the find root too.
    find_library(OHNCP_SYSTEM_${name} NAMES ${file_names} PATHS ${OHNCP_SYSTEM_PREFIX}
                 PATH_SUFFIXES ${suffixes} NO_DEFAULT_PATH NO_CMAKE_FIND_ROOT_PATH)
  else()
    find_library(OHNCP_SYSTEM_${name} NAMES ${file_names} PATH_SUFFIXES ${suffixes})
  endif()
  if(NOT OHNCP_SYSTEM_${name} AND arg_OPTIONAL)
    message(STATUS "ohncp: no system ${file_names}: what needs it is not built")
    return()
  endif()
  if(NOT OHNCP_SYSTEM_${name})
    message(FATAL_ERROR
      "OHNCP_BACKEND=system: lib${name}.so not found "
      "(OHNCP_SYSTEM_PREFIX='${OHNCP_SYSTEM_PREFIX}', CMAKE_SYSROOT='${CMAKE_SYSROOT}')")
  endif()
  add_library(${name} SHARED IMPORTED GLOBAL)
  set_target_properties(${name} PROPERTIES
    IMPORTED_LOCATION ${OHNCP_SYSTEM_${name}}
    INTERFACE_INCLUDE_DIRECTORIES ${OHNCP_INCLUDE_DIR})
  message(STATUS "ohncp: system lib${name}.so: ${OHNCP_SYSTEM_${name}}")
endfunction()

function(ohncp_import_system_runtime)
  _ohncp_import_system_library(child_process)
  _ohncp_import_system_library(ipc_capi)
  # What device code links besides; older systems may lack them.
  _ohncp_import_system_library(hilog_ndk FILE libhilog_ndk.z.so OPTIONAL)
  _ohncp_import_system_library(ability_runtime OPTIONAL)
  _ohncp_import_system_library(background_process_manager
                               FILE libbackground_process_manager.z.so OPTIONAL)
  # The system's spawner comes with its libchild_process.so; targets that
  # depend on ours (the examples, the tests) get an empty stand-in.
  add_custom_target(ohncp-spawner)
endfunction()

message(STATUS "ohncp: backend ${OHNCP_BACKEND} (OpenHarmony target: ${OHNCP_TARGET_IS_OHOS})")
