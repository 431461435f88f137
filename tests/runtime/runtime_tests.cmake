# Runtime CPU tests (label runtime): included from tests/CMakeLists.txt when zplan_runtime is built.
# Two translation units so the torch-heavy compile splits over CI's two cores.
zplan_add_test(runtime_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/model_reference_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/training_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/trainer_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/data_test.cpp
  LABELS runtime
  LIBS zplan_runtime)
