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
