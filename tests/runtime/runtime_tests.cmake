# Runtime CPU tests (label runtime): included from tests/CMakeLists.txt when zplan_runtime is built.
# Two translation units so the torch-heavy compile splits over CI's two cores.
zplan_add_test(runtime_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/model_reference_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/training_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/trainer_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/data_test.cpp
  LABELS runtime
  LIBS zplan_runtime)

# zplan-run as a trainer, black-box: Ctrl-C (SIGINT) writes a complete checkpoint and exits 130,
# --resume continues, bad token files exit 2 (needs python3 for tools/tokenize_text.py).
find_program(ZPLAN_PYTHON3 python3)
if(ZPLAN_PYTHON3 AND TARGET zplan-run)
  add_test(NAME runtime_cli_ctrl_c
           COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/ctrl_c_cli_test.sh $<TARGET_FILE:zplan-run> ${PROJECT_SOURCE_DIR})
  set_tests_properties(runtime_cli_ctrl_c PROPERTIES LABELS runtime TIMEOUT 300)
endif()
