//! pcap capture files (placeholder: being written).
