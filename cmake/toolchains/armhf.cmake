# Cross-build for 32-bit ARM, hard float (ARMv7; Debian armhf).
# cmake -S . -B build-armhf -DCMAKE_TOOLCHAIN_FILE=cmake/toolchains/armhf.cmake
# (scripts/cross.sh armhf installs the compiler, libraries and qemu first.)
set(CMAKE_SYSTEM_PROCESSOR arm)
set(ATB_TRIPLET arm-linux-gnueabihf)
set(ATB_DEB_ARCH armhf)
set(ATB_QEMU qemu-arm)
include(${CMAKE_CURRENT_LIST_DIR}/debian-multiarch.cmake)
