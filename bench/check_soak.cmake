# The CTest check of a short `refx-bench --soak` (label `bench`): it must
# exit 0 and report samples, reloads that happened and every created
# referral delivered to the long-lived watch stream.
#   cmake -DBENCH=/path/refx-bench -DOUT=/path/soak.json -P check_soak.cmake
cmake_minimum_required(VERSION 3.25)
execute_process(COMMAND ${BENCH} --soak 0.5 --sample-seconds 5 --revocation-seconds 6 --agreement-seconds 10
                        --soak-rate 10 --output json
  OUTPUT_FILE ${OUT} RESULT_VARIABLE rc TIMEOUT 110)
file(READ ${OUT} json)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "refx-bench --soak exited with ${rc}\n${json}")
endif()
string(JSON samples LENGTH "${json}" samples)
if(samples LESS 4)
  message(FATAL_ERROR "${samples} samples in a 30 s soak with 5 s samples\n${json}")
endif()
string(JSON rss GET "${json}" samples 0 rssMb)
if(rss LESS_EQUAL 0)
  message(FATAL_ERROR "no RSS sampled\n${json}")
endif()
foreach(key created revocationListsLoaded agreementsLoaded)
  string(JSON value GET "${json}" ${key})
  if(value LESS 1)
    message(FATAL_ERROR "${key} is ${value}\n${json}")
  endif()
endforeach()
string(JSON lost GET "${json}" neverDelivered)
string(JSON failed GET "${json}" failed)
if(NOT lost EQUAL 0 OR failed)
  message(FATAL_ERROR "the soak failed a check\n${json}")
endif()
