# Project-wide compile options and the refx_test() helper used by every folder.
set(REFX_WARNINGS -Wall -Wextra -Werror -Wno-unused-parameter)
# OpenSSL 3 only: deprecated 1.1 APIs fail to compile.
add_compile_definitions(OPENSSL_API_COMPAT=30000 OPENSSL_NO_DEPRECATED)

# Build time is most of a CI run on two cores, so two choices serve it:
# - lld (Debian "lld") links a test binary with its debug info in under a second
#   where GNU ld takes about four; the linker is chosen only if it works here.
# - Test code is compiled at -O1: a gMock-heavy test file spends its time in the
#   optimiser, not at run time (-O1 compiles such a file about a fifth faster),
#   and the code under test keeps the build type's -O2.
# - Test code keeps line tables only (-g1, the last -g wins): a failing test's
#   backtrace still has files and lines, and such a file compiles about a fifth
#   faster again than with full debug info (17.7 s against 22.1 s for
#   cli_test.cc, two runs each).
include(CheckLinkerFlag)
check_linker_flag(CXX -fuse-ld=lld REFX_LINKER_LLD)
if(REFX_LINKER_LLD)
  add_link_options(-fuse-ld=lld)
endif()
set(REFX_TEST_COMPILE_OPTIONS $<$<CONFIG:RelWithDebInfo,Release>:-O1> $<$<CONFIG:RelWithDebInfo>:-g1>)

# refx_test(NAME name SOURCES ... DEPS ... [LABELS ...])
# Builds one GoogleTest binary and registers each test case with CTest.
# POSTGRES: the suite runs a second time on PostgreSQL (tests named
# "postgres:<suite>.<test>", label postgres), through the TestServer fixture
# (REFX_TEST_BACKEND=postgres, tests/testing/postgres_fixture.h).
function(refx_test)
  cmake_parse_arguments(T "POSTGRES" "NAME" "SOURCES;DEPS;LABELS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_compile_options(${T_NAME} PRIVATE ${REFX_WARNINGS} ${REFX_TEST_COMPILE_OPTIONS})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gmock GTest::gtest_main)
  if(NOT T_LABELS)
    set(T_LABELS unit)
  endif()
  gtest_discover_tests(${T_NAME} PROPERTIES LABELS "${T_LABELS}" DISCOVERY_TIMEOUT 60)
  if(T_POSTGRES)
    gtest_discover_tests(${T_NAME} TEST_PREFIX "postgres:" DISCOVERY_TIMEOUT 60
      PROPERTIES LABELS postgres ENVIRONMENT "REFX_TEST_BACKEND=postgres")
  endif()
endfunction()

# refx_warnings(target): the strict warning set for our own code.
function(refx_warnings target)
  target_compile_options(${target} PRIVATE ${REFX_WARNINGS})
endfunction()

# The long-running servers (refx-server, and refx-bench-echo so that the
# bench's ceiling runs on the same malloc) link jemalloc (Debian
# libjemalloc-dev): glibc's malloc was 12-15% of refx-server's CPU per
# create, and jemalloc took 17-23% off a create's, a Get's and a list page's
# server CPU at 64 in flight in interleaved runs (ADR 11). Off in a sanitizer
# build, whose runtime owns malloc; -DREFX_JEMALLOC=OFF builds on glibc's.
option(REFX_JEMALLOC "Link refx-server and refx-bench-echo with jemalloc (libjemalloc-dev)" ON)
if(REFX_JEMALLOC AND CMAKE_CXX_FLAGS MATCHES "-fsanitize")
  message(STATUS "refx: jemalloc not linked: a sanitizer's runtime owns malloc in this build")
  set(REFX_JEMALLOC OFF)
endif()
if(REFX_JEMALLOC)
  pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc)
endif()

# refx_link_allocator(target): jemalloc for `target` when REFX_JEMALLOC is on.
# Nothing calls jemalloc by name, and Debian's gcc links --as-needed, which
# would drop it; so it is linked with --no-as-needed (a link feature over the
# library's path, so that CMake keeps the flags around it when it orders the
# link line; the feature does not apply to pkg-config's INTERFACE target).
# It then precedes libc in the executable's DT_NEEDED and so supplies malloc
# to every library the process loads.
set(CMAKE_LINK_LIBRARY_USING_REFX_NO_AS_NEEDED "LINKER:--push-state,--no-as-needed" "<LINK_ITEM>" "LINKER:--pop-state")
set(CMAKE_LINK_LIBRARY_USING_REFX_NO_AS_NEEDED_SUPPORTED TRUE)
function(refx_link_allocator target)
  if(REFX_JEMALLOC)
    target_link_libraries(${target} PRIVATE "$<LINK_LIBRARY:REFX_NO_AS_NEEDED,${JEMALLOC_LINK_LIBRARIES}>")
  endif()
endfunction()
