# Runs the canary property binary (CANARY) and passes only if it failed as it
# must: a non-zero exit, rapidcheck's shrunk counterexample, and a shrunk
# schedule with at most MAX_NONZERO non-zero choices (the size run() prints
# for the final, shrunk run).
if(NOT CANARY OR NOT MAX_NONZERO)
  message(FATAL_ERROR "check_canary.cmake: pass -DCANARY=<binary> -DMAX_NONZERO=<bound>")
endif()
execute_process(COMMAND ${CANARY} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
set(all "${out}${err}")
if(rc EQUAL 0)
  message(FATAL_ERROR "the canary property PASSED: the machinery did not find the deliberate bug\n${all}")
endif()
if(NOT all MATCHES "Falsifiable after [0-9]+ tests")
  message(FATAL_ERROR "the canary failed (exit ${rc}) but not with a rapidcheck counterexample:\n${all}")
endif()
string(REGEX MATCHALL "schedule: [0-9]+ choices, [0-9]+ non-zero" sizes "${all}")
list(LENGTH sizes n)
if(n EQUAL 0)
  message(FATAL_ERROR "the canary failed but printed no schedule size:\n${all}")
endif()
# rapidcheck prints the final (shrunk) counterexample's message last.
list(GET sizes -1 last)
string(REGEX REPLACE "schedule: ([0-9]+) choices, ([0-9]+) non-zero" "\\2" nonzero "${last}")
if(nonzero GREATER MAX_NONZERO)
  message(FATAL_ERROR "the canary's shrunk schedule has ${nonzero} non-zero choices (bound ${MAX_NONZERO}):\n${all}")
endif()
string(REGEX MATCH "Falsifiable after [0-9]+ tests( and [0-9]+ shrinks?)?" summary "${all}")
message(STATUS "canary failed as expected: ${summary}; shrunk schedule: ${last} (bound ${MAX_NONZERO})")
