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
