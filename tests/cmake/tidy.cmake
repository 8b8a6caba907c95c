# clang-tidy over every production source (the release build only: the sanitizer build compiles
# the same sources, and a second run would only double CI's time).
if(NOT KCD_SANITIZE)
  add_test(NAME tidy COMMAND ${CMAKE_CURRENT_LIST_DIR}/../tidy/run_tidy.sh ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
  set_tests_properties(tidy PROPERTIES LABELS lint TIMEOUT 900 COST 5000)  # started early: see e2e.cmake
endif()
