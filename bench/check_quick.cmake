# The CTest check of `refx-bench --quick --output json` (label `bench`): it
# must exit 0 and print one JSON object with the expected keys. No
# performance thresholds: the figures vary by machine.
#   cmake -DBENCH=/path/refx-bench -DOUT=/path/quick.json [-DBACKEND=postgres] -P check_quick.cmake
# With BACKEND=postgres: the unary groups on both backends (its own
# throwaway PostgreSQL), the PostgreSQL rows, ceiling and replica row too.
cmake_minimum_required(VERSION 3.25)
set(args --quick --output json)
set(expected echo fsync_floor create_referral sqlite_ceiling store_create_plain store_create_sealed store_reencrypt get_referral list_referrals connect_echo connect_refx
             accept_referral watch_fanout)
if(BACKEND STREQUAL "postgres")
  list(APPEND args --backend postgres --only echo,create,get,list)
  set(expected echo fsync_floor create_referral sqlite_ceiling store_create_plain store_create_sealed store_reencrypt get_referral list_referrals pg_create_referral pg_get_referral
               pg_list_referrals pg_libpq_ceiling pg_create_referral_2_replicas)
endif()
execute_process(COMMAND ${BENCH} ${args}
  OUTPUT_FILE ${OUT} RESULT_VARIABLE rc TIMEOUT 110)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "refx-bench --quick exited with ${rc}")
endif()
file(READ ${OUT} json)
string(JSON mode ERROR_VARIABLE err GET "${json}" mode)
if(err OR NOT mode STREQUAL "quick")
  message(FATAL_ERROR "not the JSON of a quick run: ${err}\n${json}")
endif()
foreach(key tool server cpus duration seed echo_payload_bytes capabilities results not_available targets
            notes total_seconds)
  string(JSON type ERROR_VARIABLE err TYPE "${json}" ${key})
  if(err)
    message(FATAL_ERROR "missing key ${key}")
  endif()
endforeach()
foreach(cap record_gate agreement_enforcement audit encryption)
  string(JSON state ERROR_VARIABLE err GET "${json}" capabilities ${cap})
  if(err)
    message(FATAL_ERROR "missing capability ${cap}")
  endif()
endforeach()
# Every workload at every level, each with its figures.
string(JSON n LENGTH "${json}" results)
set(seen "")
math(EXPR last "${n} - 1")
foreach(i RANGE ${last})
  string(JSON workload GET "${json}" results ${i} workload)
  list(APPEND seen ${workload})
  foreach(key in_flight calls errors calls_per_second latency_us server_cpu_us_per_call ratio_to_ceiling
              bounded_by)
    string(JSON v ERROR_VARIABLE err GET "${json}" results ${i} ${key})
    if(err)
      message(FATAL_ERROR "results[${i}] (${workload}) lacks ${key}")
    endif()
  endforeach()
  string(JSON calls GET "${json}" results ${i} calls)
  if(calls LESS_EQUAL 0)
    message(FATAL_ERROR "results[${i}] (${workload}) has no successful call")
  endif()
endforeach()
foreach(workload ${expected})
  if(NOT workload IN_LIST seen)
    message(FATAL_ERROR "no ${workload} result")
  endif()
endforeach()
message(STATUS "refx-bench --quick: ${n} results, valid JSON")
