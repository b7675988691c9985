cg_fuzz(delivery_messages SOURCES ${CMAKE_CURRENT_LIST_DIR}/delivery_messages.cc DEPS cg_deliver)
