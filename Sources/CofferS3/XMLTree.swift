import CofferAWS

/// CofferAWS.XMLNode under a name that does not collide with Foundation's placeholder `XMLNode` on Linux.
typealias XMLTree = CofferAWS.XMLNode
