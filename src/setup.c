/* placeholder: being written */
typedef int ad_placeholder_;
