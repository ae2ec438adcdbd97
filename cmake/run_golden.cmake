# ctest driver for tests/golden: evaluates a point with `einsim model --json` (2-byte tensors, as the FuseMax study
# runs them) and compares it with its golden file.
execute_process(COMMAND ${EINSIM} model --mapping configs/mappings/${MAPPING}.yaml --params configs/workloads/models/bert.yaml
                        --set M=${SEQ} --set P=${SEQ} --set dtype=bf16 --json
                WORKING_DIRECTORY ${SRC} RESULT_VARIABLE rc OUTPUT_FILE ${OUT} ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "einsim model failed (${rc}): ${err}")
endif()
execute_process(COMMAND python3 ${SRC}/tests/golden/compare.py ${SRC}/tests/golden/${NAME}.json ${OUT} RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "differs from tests/golden/${NAME}.json (regenerate with scripts/regen-golden only if the change is intended)")
endif()
