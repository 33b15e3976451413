# CMake helpers for projects that test with simloop (included by
# simloopConfig.cmake, and by simloop's own CMakeLists.txt for
# add_subdirectory users).

# simloop_relative_source_paths(<target> [ROOT <dir>])
#   Makes __FILE__ and std::source_location in <target>'s sources relative to
#   ROOT (default: the calling project's source directory). Failure messages,
#   task dumps and replay files then read the same in every checkout, so a
#   replay file made in one directory replays exactly in another. Debug
#   information keeps absolute paths (only -fmacro-prefix-map is set).
function(simloop_relative_source_paths target)
  cmake_parse_arguments(ARG "" "ROOT" "" ${ARGN})
  if(NOT ARG_ROOT)
    set(ARG_ROOT "${PROJECT_SOURCE_DIR}")
  endif()
  get_filename_component(root "${ARG_ROOT}" REALPATH)
  target_compile_options(${target} PRIVATE "-fmacro-prefix-map=${root}/=")
  if(NOT root STREQUAL ARG_ROOT)
    target_compile_options(${target} PRIVATE "-fmacro-prefix-map=${ARG_ROOT}/=")
  endif()
endfunction()

# simloop_discover_tests(<target> [SHARDS <n>] [<gtest_discover_tests options>...])
#   Registers each test of <target> with ctest, as gtest_discover_tests does
#   (its options pass through). With SHARDS n (n > 1), each test is
#   registered n times, "<Suite.Name>/shard_<i>_of_<n>" for i in 0..n-1, run
#   with SIMLOOP_TOTAL_SHARDS=n and SIMLOOP_SHARD_INDEX=i: a SIMLOOP_TEST's
#   run k then belongs to shard k % n, so `ctest -j` spreads one test's seeds
#   over cores, and the n entries together run every seed exactly once. A
#   plain TEST of <target> ignores the variables and runs in every entry:
#   keep sharded SIMLOOP_TESTs in a binary of their own.
function(simloop_discover_tests target)
  cmake_parse_arguments(ARG "" "SHARDS" "PROPERTIES" ${ARGN})
  include(GoogleTest)
  if(NOT DEFINED ARG_SHARDS)
    set(ARG_SHARDS 1)
  endif()
  if(NOT ARG_SHARDS MATCHES "^[1-9][0-9]*$")
    message(FATAL_ERROR "simloop_discover_tests(${target} SHARDS ${ARG_SHARDS}): SHARDS takes a whole number, 1 or more")
  endif()
  if(ARG_SHARDS EQUAL 1)
    gtest_discover_tests(${target} ${ARG_UNPARSED_ARGUMENTS} PROPERTIES ${ARG_PROPERTIES})
    return()
  endif()
  math(EXPR last "${ARG_SHARDS} - 1")
  foreach(index RANGE ${last})
    # Two single-valued properties: a list in ENVIRONMENT would not survive
    # gtest_discover_tests' forwarding of PROPERTIES.
    gtest_discover_tests(${target} ${ARG_UNPARSED_ARGUMENTS} TEST_SUFFIX "/shard_${index}_of_${ARG_SHARDS}"
                         PROPERTIES ${ARG_PROPERTIES} ENVIRONMENT "SIMLOOP_TOTAL_SHARDS=${ARG_SHARDS}"
                                    ENVIRONMENT_MODIFICATION "SIMLOOP_SHARD_INDEX=set:${index}")
  endforeach()
endfunction()

# simloop_add_fuzz_target(<name> <source>... [LINK <library>...])
#   Builds <name>, a libFuzzer binary from sources holding one
#   SIMLOOP_FUZZ_TARGET (<simloop/fuzz/fuzz.hpp>), compiled and linked with
#   -fsanitize=fuzzer,address,undefined (undefined behaviour aborts, so the
#   fuzzer keeps the input), linked with simloop::simloop and the LINK
#   libraries. Needs clang with libFuzzer as the project's C++ compiler
#   (Debian: clang-16 and libclang-rt-16-dev, then
#   -DCMAKE_CXX_COMPILER=clang++-16); with another compiler, or a clang
#   without libFuzzer, <name> is not defined and a message says why: test
#   for it with if(TARGET <name>).
function(simloop_add_fuzz_target name)
  cmake_parse_arguments(ARG "" "" "LINK" ${ARGN})
  if(NOT ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "simloop_add_fuzz_target(${name}): give at least one source file")
  endif()
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(STATUS "simloop: fuzz target ${name} skipped: libFuzzer needs clang as the C++ compiler "
                   "(found ${CMAKE_CXX_COMPILER_ID}; configure with -DCMAKE_CXX_COMPILER=clang++-16)")
    return()
  endif()
  if(NOT DEFINED SIMLOOP_HAVE_LIBFUZZER)
    include(CheckCXXSourceCompiles)
    set(CMAKE_REQUIRED_FLAGS "-fsanitize=fuzzer,address,undefined")
    set(CMAKE_REQUIRED_LINK_OPTIONS "-fsanitize=fuzzer,address,undefined")
    set(CMAKE_REQUIRED_QUIET ON)
    check_cxx_source_compiles(
      "#include <cstddef>\n#include <cstdint>\nextern \"C\" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }"
      SIMLOOP_HAVE_LIBFUZZER)
  endif()
  if(NOT SIMLOOP_HAVE_LIBFUZZER)
    string(REGEX MATCH "^[0-9]+" CMAKE_CXX_COMPILER_VERSION_MAJOR "${CMAKE_CXX_COMPILER_VERSION}")
    message(STATUS "simloop: fuzz target ${name} skipped: ${CMAKE_CXX_COMPILER} cannot link -fsanitize=fuzzer "
                   "(Debian: apt-get install libclang-rt-${CMAKE_CXX_COMPILER_VERSION_MAJOR}-dev)")
    return()
  endif()
  add_executable(${name} ${ARG_UNPARSED_ARGUMENTS})
  set(flags -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  target_compile_options(${name} PRIVATE ${flags})
  target_link_options(${name} PRIVATE ${flags})
  if(TARGET simloop::simloop)
    target_link_libraries(${name} PRIVATE simloop::simloop ${ARG_LINK})
  else()
    message(FATAL_ERROR "simloop_add_fuzz_target(${name}): simloop::simloop is not defined (find_package(simloop) first)")
  endif()
endfunction()
