# Integration tests of the kubelet-certd binary against devapi over real TLS on 127.0.0.1.
foreach(t agent_bootstrap_test agent_rotation_test agent_faults_test agent_events_test crash_test agent_status_test
        kubelet_config_test instance_lock_test
        daemon_exhaustion_test cluster_ca_test)
  kcd_add_test(${t} SOURCES ${CMAKE_CURRENT_LIST_DIR}/../integration/${t}.cpp
               LIBS kcd_devapi kcd_testsupport kcd_config kcd_rotation kcd_rotation_store kcd_daemon LABELS integration)
  target_compile_definitions(${t} PRIVATE KCD_BINARY="$<TARGET_FILE:kubelet-certd>")
  add_dependencies(${t} kubelet-certd)
endforeach()

# kcd_fakes: in-process stand-ins for the agent's effects (the CSR API as devapi answers, a
# virtual clock), and the agent's tests on them: no sockets, no sleeps.
add_library(kcd_fakes STATIC ${CMAKE_CURRENT_LIST_DIR}/../fakes/fake_csr_api.cpp)
target_include_directories(kcd_fakes PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(kcd_fakes PUBLIC kcd_daemon kcd_testsupport)
kcd_add_test(daemon_agent_test SOURCES ${CMAKE_CURRENT_LIST_DIR}/../unit/daemon_agent_test.cpp
             LIBS kcd_fakes kcd_rotation_store)
