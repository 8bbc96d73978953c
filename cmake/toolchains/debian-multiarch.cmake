# Shared part of the cross toolchain files: Debian's cross compiler for
# ATB_TRIPLET, the multiarch libraries of ATB_DEB_ARCH installed beside the
# host's (/usr/lib/<triplet>, headers in /usr/include), and qemu-user as
# CMAKE_CROSSCOMPILING_EMULATOR so that ctest runs the tests under
# emulation. No binfmt registration is needed: ctest puts the emulator in
# front of every test executable, and programs that tests start by path
# (atbridge-sim, atbridge) get a wrapper script (atb_exec_path in
# cmake/emulation.cmake). scripts/cross.sh installs all of it.
#
# qemu finds the target's loader (/lib/ld-linux-armhf.so.3, from
# libc6:<arch>) on the host, so it needs no -L. Do not add
# "-L /usr/<triplet>": that loader comes from the cross toolchain's older
# glibc (2.36-8cross1) while libc.so.6 still comes from the multiarch
# libc6 (2.36-9+deb12uN); ld.so and libc of different builds crash in
# fork() (a ten-line fork+exit program segfaults in the child). That is
# the only way found to reproduce a segfault of test_modem_recover's
# test_maxfail_exits under qemu (it forks); without -L it passes.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_C_COMPILER ${ATB_TRIPLET}-gcc)
set(CMAKE_LIBRARY_ARCHITECTURE ${ATB_TRIPLET})

# Libraries and pkg-config files of the target architecture only: a host
# library found by mistake would fail at link time, far from the cause.
set(ENV{PKG_CONFIG_LIBDIR} "/usr/lib/${ATB_TRIPLET}/pkgconfig:/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_PATH} "")
set(CMAKE_IGNORE_PATH /usr/lib/x86_64-linux-gnu /lib/x86_64-linux-gnu)

find_program(ATB_QEMU_${ATB_DEB_ARCH} ${ATB_QEMU} REQUIRED)
set(CMAKE_CROSSCOMPILING_EMULATOR ${ATB_QEMU_${ATB_DEB_ARCH}})

# cpack's .deb is for the target (cpack would name the host's). Its
# dpkg-shlibdeps reads each binary's ELF machine and finds the libraries in
# the matching multiarch folder, so Depends is right without more help.
set(CPACK_DEBIAN_PACKAGE_ARCHITECTURE ${ATB_DEB_ARCH})
