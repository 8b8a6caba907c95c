# The bench: `cmake --build build --target bench` prints time to certificate, peak RSS and
# API request counts against devapi (targets in README "Performance").
add_executable(kubelet-certd-bench ${CMAKE_CURRENT_LIST_DIR}/../bench/bench.cpp)
target_link_libraries(kubelet-certd-bench PRIVATE kcd_options kcd_devapi kcd_testsupport kcd_kubelet CLI11::CLI11)
target_compile_definitions(kubelet-certd-bench PRIVATE KCD_BINARY="$<TARGET_FILE:kubelet-certd>")
add_dependencies(kubelet-certd-bench kubelet-certd)
add_custom_target(bench COMMAND kubelet-certd-bench --runs 20 DEPENDS kubelet-certd-bench kubelet-certd
                  USES_TERMINAL COMMENT "kubelet-certd bench")
