# The CTest check of a short `refx-bench --overload` (label `bench`): its
# plumbing end to end, not its verdict (a few seconds on a shared CI machine
# prove nothing about p99s). It must finish (exit 0, or 3 for a failed
# verdict), shed calls with RetryInfo, answer the well-behaved agency's
# calls in its own process (refx-bench-agency) both alone and under the
# flood, refuse none of them, and read back every acknowledged create.
#   cmake -DBENCH=/path/refx-bench -DOUT=/path/overload.json -P check_overload.cmake
cmake_minimum_required(VERSION 3.25)
execute_process(COMMAND ${BENCH} --overload 5 --output json
  OUTPUT_FILE ${OUT} RESULT_VARIABLE rc TIMEOUT 110)
file(READ ${OUT} json)
if(NOT rc EQUAL 0 AND NOT rc EQUAL 3)
  message(FATAL_ERROR "refx-bench --overload exited with ${rc}\n${json}")
endif()
foreach(key shedWithRetryInfo goodAloneOk goodOk acknowledged verified)
  string(JSON value GET "${json}" ${key})
  if(value LESS 1)
    message(FATAL_ERROR "${key} is ${value}\n${json}")
  endif()
endforeach()
foreach(key goodAloneRefused goodRefused missing)
  string(JSON value GET "${json}" ${key})
  if(NOT value EQUAL 0)
    message(FATAL_ERROR "${key} is ${value}\n${json}")
  endif()
endforeach()
string(JSON acknowledged GET "${json}" acknowledged)
string(JSON verified GET "${json}" verified)
if(NOT acknowledged EQUAL verified)
  message(FATAL_ERROR "${verified} of ${acknowledged} acknowledged creates read back\n${json}")
endif()
string(JSON others LENGTH "${json}" otherErrors)
if(NOT others EQUAL 0)
  message(FATAL_ERROR "calls failed other than by shedding\n${json}")
endif()
