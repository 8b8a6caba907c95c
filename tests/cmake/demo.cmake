# The README's demo (`cmake --build --preset default --target demo`), also run as a test.
set(_demo ${CMAKE_CURRENT_LIST_DIR}/../demo/demo.sh)
add_custom_target(demo
  COMMAND ${_demo} $<TARGET_FILE:kubelet-certd> $<TARGET_FILE:kubelet-certd-devapi>
  DEPENDS kubelet-certd kubelet-certd-devapi USES_TERMINAL
  COMMENT "kubelet-certd demo: bootstrap against the development API server")
add_test(NAME demo COMMAND ${_demo} $<TARGET_FILE:kubelet-certd> $<TARGET_FILE:kubelet-certd-devapi>)
set_tests_properties(demo PROPERTIES LABELS "integration;demo" TIMEOUT 120)
