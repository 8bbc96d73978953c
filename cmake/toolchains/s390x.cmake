# Cross-build for IBM Z: 64-bit big-endian, standing in for big-endian MIPS routers.
# cmake -S . -B build-s390x -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/s390x.cmake
# (scripts/cross.sh s390x installs the compiler, libraries and qemu first.)
set(CMAKE_SYSTEM_PROCESSOR s390x)
set(ATB_TRIPLET s390x-linux-gnu)
set(ATB_DEB_ARCH s390x)
set(ATB_QEMU qemu-s390x)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
