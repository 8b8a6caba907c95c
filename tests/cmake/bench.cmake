# The bench: `cmake --build build --target bench` prints time to certificate, peak RSS and
# API request counts against devapi (targets in README "Performance").
add_executable(kubelet-certd-bench ${CMAKE_CURRENT_LIST_DIR}/../bench/bench.cpp)
target_link_libraries(kubelet-certd-bench PRIVATE kcd_options kcd_devapi kcd_testsupport kcd_kubelet CLI11::CLI11)
# The floor: the least the mandated stack must do for a bootstrap, nothing of ours (floor.cpp).
add_executable(kubelet-certd-floor ${CMAKE_CURRENT_LIST_DIR}/../bench/floor.cpp)
target_link_libraries(kubelet-certd-floor PRIVATE kcd_options OpenSSL::SSL OpenSSL::Crypto PkgConfig::SYSTEMD spdlog::spdlog
                      ${KCD_YAML_TARGET})
target_compile_definitions(kubelet-certd-bench PRIVATE KCD_BINARY="$<TARGET_FILE:kubelet-certd>"
                           KCD_FLOOR_BINARY="$<TARGET_FILE:kubelet-certd-floor>")
add_dependencies(kubelet-certd-bench kubelet-certd kubelet-certd-floor)
add_custom_target(bench COMMAND kubelet-certd-bench --runs 20 DEPENDS kubelet-certd-bench kubelet-certd
                  USES_TERMINAL COMMENT "kubelet-certd bench")
