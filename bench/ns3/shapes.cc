// ns-3 versions of packetlab's scale shapes, for bench/scale.py: the same work in the
// reference simulator, in one process run, its wall time and memory measured from outside.
//
//   flat N:  N clients and one server on one switch (CSMA links to a bridge), each client
//            sending 1 KiB over TCP (BulkSend) to the server's PacketSink.
//   bulk M:  one TCP connection carrying M MiB over a point-to-point link (1 ms).
//
// Build (Debian's libns3-dev 3.37; bench/scale.py finds the library names itself):
//   g++ -O2 -std=c++17 shapes.cc -lns3-core -lns3-network -lns3-internet -lns3-applications \
//       -lns3-csma -lns3-bridge -lns3-point-to-point -o shapes
#include "ns3/applications-module.h"
#include "ns3/bridge-module.h"
#include "ns3/core-module.h"
#include "ns3/csma-module.h"
#include "ns3/internet-module.h"
#include "ns3/network-module.h"
#include "ns3/point-to-point-module.h"

#include <cstdlib>
#include <iostream>
#include <string>

using namespace ns3;

static uint64_t g_received = 0;

static void Received(Ptr<const Packet> packet, const Address &) { g_received += packet->GetSize(); }

static void Flat(uint32_t n) {
  NodeContainer hosts;
  hosts.Create(n + 1);  // node 0 is the server
  NodeContainer sw;
  sw.Create(1);
  CsmaHelper csma;
  csma.SetChannelAttribute("DataRate", StringValue("1Gbps"));
  csma.SetChannelAttribute("Delay", TimeValue(MicroSeconds(1)));
  NetDeviceContainer hostDevices, switchPorts;
  for (uint32_t i = 0; i < hosts.GetN(); ++i) {
    NetDeviceContainer link = csma.Install(NodeContainer(hosts.Get(i), sw.Get(0)));
    hostDevices.Add(link.Get(0));
    switchPorts.Add(link.Get(1));
  }
  BridgeHelper bridge;
  bridge.Install(sw.Get(0), switchPorts);
  InternetStackHelper internet;
  internet.Install(hosts);
  Ipv4AddressHelper addresses;
  addresses.SetBase("10.0.0.0", "255.0.0.0");
  Ipv4InterfaceContainer ifaces = addresses.Assign(hostDevices);
  PacketSinkHelper sink("ns3::TcpSocketFactory", InetSocketAddress(Ipv4Address::GetAny(), 9000));
  ApplicationContainer server = sink.Install(hosts.Get(0));
  server.Get(0)->TraceConnectWithoutContext("Rx", MakeCallback(&Received));
  for (uint32_t i = 1; i <= n; ++i) {
    BulkSendHelper send("ns3::TcpSocketFactory", InetSocketAddress(ifaces.GetAddress(0), 9000));
    send.SetAttribute("MaxBytes", UintegerValue(1024));
    ApplicationContainer app = send.Install(hosts.Get(i));
    // Groups of 100 start 1 ms apart, as in packetlab's scenario.
    app.Start(MilliSeconds(10 + (i - 1) / 100));
  }
  Simulator::Stop(Seconds(n / 100 + 30));
  Simulator::Run();
  Simulator::Destroy();
}

static void Bulk(uint64_t mib) {
  NodeContainer nodes;
  nodes.Create(2);
  PointToPointHelper p2p;
  p2p.SetDeviceAttribute("DataRate", StringValue("100Gbps"));
  p2p.SetChannelAttribute("Delay", StringValue("1ms"));
  NetDeviceContainer devices = p2p.Install(nodes);
  InternetStackHelper internet;
  internet.Install(nodes);
  Ipv4AddressHelper addresses;
  addresses.SetBase("10.0.0.0", "255.255.255.0");
  Ipv4InterfaceContainer ifaces = addresses.Assign(devices);
  PacketSinkHelper sink("ns3::TcpSocketFactory", InetSocketAddress(Ipv4Address::GetAny(), 9000));
  ApplicationContainer server = sink.Install(nodes.Get(1));
  server.Get(0)->TraceConnectWithoutContext("Rx", MakeCallback(&Received));
  BulkSendHelper send("ns3::TcpSocketFactory", InetSocketAddress(ifaces.GetAddress(1), 9000));
  send.SetAttribute("MaxBytes", UintegerValue(mib << 20));
  send.Install(nodes.Get(0)).Start(MilliSeconds(10));
  Simulator::Stop(Seconds(600));
  Simulator::Run();
  Simulator::Destroy();
}

int main(int argc, char *argv[]) {
  if (argc != 3) {
    std::cerr << "usage: shapes flat|bulk N" << std::endl;
    return 2;
  }
  // Like packetlab's hosts: 64 KiB buffers, no SACK (ours reads it and ignores it).
  Config::SetDefault("ns3::TcpSocket::SndBufSize", UintegerValue(65536));
  Config::SetDefault("ns3::TcpSocket::RcvBufSize", UintegerValue(65535));
  Config::SetDefault("ns3::TcpSocket::SegmentSize", UintegerValue(1460));
  std::string shape = argv[1];
  uint64_t n = std::strtoull(argv[2], nullptr, 10);
  if (shape == "flat") {
    Flat(n);
  } else if (shape == "bulk") {
    Bulk(n);
  } else {
    std::cerr << "unknown shape " << shape << std::endl;
    return 2;
  }
  std::cout << "received " << g_received << " bytes" << std::endl;
  return 0;
}
