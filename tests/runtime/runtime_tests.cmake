# Runtime CPU tests (label runtime): included from tests/CMakeLists.txt when zplan_runtime is built.
# Two translation units so the torch-heavy compile splits over CI's two cores.
zplan_add_test(runtime_tests
  SOURCES ${CMAKE_CURRENT_LIST_DIR}/model_reference_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/training_test.cpp
          ${CMAKE_CURRENT_LIST_DIR}/zero_release_test.cpp
  LABELS runtime
  LIBS zplan_runtime)

# Distributed runtime on CPU: ranks are dist_worker processes over c10d Gloo (label dist as well,
# so `ctest -L dist` runs them alone). Needs a runtime built with Gloo.
if(ZPLAN_GLOO_INCLUDE_DIR)
  add_executable(dist_worker ${CMAKE_CURRENT_LIST_DIR}/dist_worker.cpp)
  target_link_libraries(dist_worker PRIVATE zplan_runtime)
  zplan_add_test(dist_tests SOURCES ${CMAKE_CURRENT_LIST_DIR}/dist_test.cpp LABELS "runtime;dist" LIBS zplan_runtime)
  target_compile_definitions(dist_tests PRIVATE ZPLAN_DIST_WORKER="$<TARGET_FILE:dist_worker>")
  add_dependencies(dist_tests dist_worker)
  set_tests_properties(dist_tests PROPERTIES TIMEOUT 300)
endif()
