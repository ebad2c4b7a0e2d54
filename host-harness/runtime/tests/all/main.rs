//! The runtime with components other than Bitbucket's: it knows only the
//! generic contract, so any integration built against it loads unchanged.

mod second_integration;
