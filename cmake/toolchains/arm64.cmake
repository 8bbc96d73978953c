# Cross-build for 64-bit ARM (Debian arm64).
# cmake -S . -B build-arm64 -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/arm64.cmake
# (scripts/cross.sh arm64 installs the compiler, libraries and qemu first.)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(ATB_TRIPLET aarch64-linux-gnu)
set(ATB_DEB_ARCH arm64)
set(ATB_QEMU qemu-aarch64)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
