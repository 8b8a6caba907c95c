# kubelet-certd-fleetsim: the fleet simulator (production rotation::Lifecycle × N in virtual
# time, see tests/fleetsim/README.md) and its ctest (label fleet) asserting the fleet's promises.
set(_f ${CMAKE_CURRENT_LIST_DIR}/../fleetsim)
add_library(kcd_fleetsim STATIC ${_f}/fleet.cpp ${_f}/scenarios.cpp ${_f}/report.cpp)
target_include_directories(kcd_fleetsim PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(kcd_fleetsim PUBLIC kcd_options kcd_rotation kcd_config nlohmann_json::nlohmann_json)
add_executable(kubelet-certd-fleetsim ${_f}/main.cpp)
target_link_libraries(kubelet-certd-fleetsim PRIVATE kcd_options kcd_fleetsim CLI11::CLI11)
kcd_add_test(fleetsim_test SOURCES ${_f}/fleetsim_test.cpp LIBS kcd_fleetsim LABELS fleet)
add_test(NAME fleetsim_cli_summary COMMAND kubelet-certd-fleetsim --nodes 200 --scenario outage-10m)
set_tests_properties(fleetsim_cli_summary PROPERTIES LABELS fleet
                     PASS_REGULAR_EXPRESSION "\"retry_peak_over_steady_requests\": [0-9]")
