# ctest driver: `einsim sim` with and without --exact. Without TOL the Stats must be identical; with TOL the
# cycles may differ by that fraction (the reason goes with the test) and the busy cycles must still match.
# ARGS (a ;-list) names the point instead of MAPPING and SEQ.
if(DEFINED ARGS)
  set(args sim ${ARGS} --json)
else()
  set(args sim --mapping configs/mappings/${MAPPING}.yaml --params configs/workloads/models/bert.yaml --set M=${SEQ} --set P=${SEQ} --json)
endif()
execute_process(COMMAND ${EINSIM} ${args} WORKING_DIRECTORY ${SRC} RESULT_VARIABLE rc1 OUTPUT_FILE ${OUT}-fast.json ERROR_VARIABLE err1)
execute_process(COMMAND ${EINSIM} ${args} --exact WORKING_DIRECTORY ${SRC} RESULT_VARIABLE rc2 OUTPUT_FILE ${OUT}-exact.json ERROR_VARIABLE err2)
if(NOT rc1 EQUAL 0 OR NOT rc2 EQUAL 0)
  message(FATAL_ERROR "einsim sim failed: ${err1} ${err2}")
endif()
if(DEFINED TOL)
  execute_process(COMMAND python3 -c "
import json, sys
fast, exact = (json.load(open(f)) for f in ('${OUT}-fast.json', '${OUT}-exact.json'))
rel = abs(fast['cycles'] - exact['cycles']) / exact['cycles']
print(f'cycles: exact {exact[\"cycles\"]}, extrapolated {fast[\"cycles\"]} ({100 * rel:.4f}%)')
sys.exit(0 if rel <= ${TOL} and fast['busy_cycles'] == exact['busy_cycles'] else 1)" RESULT_VARIABLE rc)
else()
  execute_process(COMMAND python3 ${SRC}/tests/golden/compare.py ${OUT}-exact.json ${OUT}-fast.json 0 RESULT_VARIABLE rc)
endif()
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "the extrapolated run differs from the exact one")
endif()
