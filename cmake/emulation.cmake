# atb_exec_path(<target> <var>): the path a test should exec to run one of
# our programs (atbridge-sim started by test_modem_sim or a Python harness,
# atbridge by an e2e script). Natively that is the binary itself. On a cross
# build (cmake/toolchains/) the kernel cannot exec it without a binfmt
# registration, which containers and CI machines rarely allow; ctest puts
# CMAKE_CROSSCOMPILING_EMULATOR only in front of a test's own command, so
# the path is a wrapper script that does the same for the program.
function(atb_exec_path target var)
  if(NOT CMAKE_CROSSCOMPILING_EMULATOR)
    set(${var} $<TARGET_FILE:${target}> PARENT_SCOPE)
    return()
  endif()
  string(REPLACE ";" " " emu "${CMAKE_CROSSCOMPILING_EMULATOR}")
  set(tmp ${CMAKE_BINARY_DIR}/CMakeFiles/emulated/${target})
  file(WRITE ${tmp} "#!/bin/sh\nexec ${emu} ${CMAKE_RUNTIME_OUTPUT_DIRECTORY}/${target} \"$@\"\n")
  file(COPY ${tmp} DESTINATION ${CMAKE_BINARY_DIR}/emulated
    FILE_PERMISSIONS OWNER_READ OWNER_WRITE OWNER_EXECUTE GROUP_READ GROUP_EXECUTE
                     WORLD_READ WORLD_EXECUTE)
  set(${var} ${CMAKE_BINARY_DIR}/emulated/${target} PARENT_SCOPE)
endfunction()

# ATB_EMULATED_RTNETLINK: whether tun0 can be configured from an emulated
# program. qemu-user forwards the tun ioctls and rtnetlink, so the tun
# tests and the e2e suite run under it (as root) with the host's kernel,
# except when the target's byte order is not the host's (s390x on x86-64):
# qemu 7.2 byte-swaps the rtnetlink headers but not the attributes of a
# request ("Unknown target QEMU_IFLA type: 4" in its -d unimp log: IFLA_MTU
# reaches the kernel byte-swapped), so bringing the link up fails with
# EINVAL whatever atbridge does. Tests that need it are DISABLED there.
set(ATB_EMULATED_RTNETLINK TRUE)
if(CMAKE_CROSSCOMPILING_EMULATOR AND CMAKE_C_BYTE_ORDER STREQUAL "BIG_ENDIAN")
  set(ATB_EMULATED_RTNETLINK FALSE)
  message(STATUS "big-endian target under qemu-user: tun and e2e tests disabled "
                 "(qemu does not byte-swap rtnetlink attributes)")
endif()
