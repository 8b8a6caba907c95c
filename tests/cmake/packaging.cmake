# What the packages ship for the cluster: the approver's RBAC.
set(_u ${CMAKE_CURRENT_LIST_DIR}/../unit)
kcd_add_test(packaging_rbac_test SOURCES ${_u}/packaging_rbac_test.cpp LIBS ${KCD_YAML_TARGET})
