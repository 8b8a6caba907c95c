# Integration tests of the kubelet-certd binary against devapi over real TLS on 127.0.0.1.
kcd_add_test(agent_bootstrap_test
             SOURCES ${CMAKE_CURRENT_LIST_DIR}/../integration/agent_bootstrap_test.cpp
             LIBS kcd_devapi kcd_testsupport kcd_config kcd_rotation
             LABELS integration)
target_compile_definitions(agent_bootstrap_test PRIVATE KCD_BINARY="$<TARGET_FILE:kubelet-certd>")
add_dependencies(agent_bootstrap_test kubelet-certd)
